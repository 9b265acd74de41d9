// child_process: execSync with a pipeline, spawn with stdin, execFile's exit code.
const cp = require('child_process');

console.log('execSync', JSON.stringify(cp.execSync('seq 1 5 | sort -r | tr "\\n" " "').toString()));
const child = cp.spawn('sort', ['-n']);
let out = '';
child.stdout.on('data', (d) => { out += d; });
child.on('close', (code) => {
  console.log('spawn', JSON.stringify(out), 'code', code);
  cp.execFile('sh', ['-c', 'echo to-stderr >&2; exit 5'], (err, stdout, stderr) => {
    console.log('execFile', err && err.code, JSON.stringify(stderr));
  });
});
child.stdin.end('10\n9\n100\n1\n');
