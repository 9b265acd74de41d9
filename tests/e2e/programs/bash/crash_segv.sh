echo "before kill"
kill -SEGV $$
echo "not reached"
