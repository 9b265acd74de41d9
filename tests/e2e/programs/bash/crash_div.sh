set -e
echo "before division"
x=0
((y = 10 / x))
echo "not reached: $y"
