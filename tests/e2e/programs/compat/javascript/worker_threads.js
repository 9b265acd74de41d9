// worker_threads: four workers sum squares of their slices and post the result back.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

if (isMainThread) {
  const n = 100000, t = 4;
  let done = 0, total = 0n;
  for (let id = 0; id < t; id++) {
    const w = new Worker(__filename, { workerData: { id, n, t } });
    w.on('message', (s) => {
      total += BigInt(s);
      if (++done === t) console.log('workers', t, 'sum', total.toString());
    });
    w.on('error', (e) => { console.error(e); process.exit(1); });
  }
} else {
  const { id, n, t } = workerData;
  let s = 0n;
  for (let i = id; i < n; i += t) s += BigInt(i) * BigInt(i);
  parentPort.postMessage(s.toString());
}
