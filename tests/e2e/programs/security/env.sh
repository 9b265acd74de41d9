# env.sh: the environment as the program sees it, both ways.
tr '\0' '\n' < /proc/self/environ
echo "---"
env
