# UTF-8 in bash: the locale, ${#var} in characters, file names, sort, printf.
text=$1
echo "LANG $LANG"
echo "chars ${#text}"
echo "bytes $(printf %s "$text" | wc -c)"
echo "upper ${text^^}"
mkdir -p /tmp/dossier-été
for n in "$text" zèbre abc; do printf '%s\n' "$n" > "/tmp/dossier-été/$n.txt"; done
ls /tmp/dossier-été | sort | tr '\n' '|'; echo
echo "cat $(cat "/tmp/dossier-été/$text.txt")"
echo "wc -m $(printf %s "$text" | wc -m)"
