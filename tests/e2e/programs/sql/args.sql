-- the program's arguments are the rows of temp.args(i, value)
SELECT 'argc=' || count(*) FROM temp.args;
SELECT '[' || value || ']' FROM temp.args ORDER BY i;
