"""subprocess: run, check_output, a Popen pipeline, shell=True, a failing command."""
import subprocess

print("run", subprocess.run(["echo", "hello"], capture_output=True, text=True).stdout.strip())
p1 = subprocess.Popen(["seq", "1", "1000"], stdout=subprocess.PIPE)
p2 = subprocess.Popen(["wc", "-l"], stdin=p1.stdout, stdout=subprocess.PIPE, text=True)
p1.stdout.close()
print("pipeline", p2.communicate()[0].strip(), p1.wait())
print("shell", subprocess.check_output("printf '%s\\n' c a b | sort | tr -d '\\n'", shell=True, text=True))
r = subprocess.run(["sh", "-c", "echo err >&2; exit 4"], capture_output=True, text=True)
print("failing", r.returncode, r.stderr.strip())
print("input", subprocess.run(["tr", "a-z", "A-Z"], input="piped in", capture_output=True, text=True).stdout)
