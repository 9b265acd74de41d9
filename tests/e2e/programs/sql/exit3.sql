SELECT 'before exit';
.exit 3
