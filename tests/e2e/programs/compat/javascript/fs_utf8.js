// fs.promises with UTF-8 file names under os.tmpdir(); Buffer byte lengths.
const fs = require('fs/promises');
const os = require('os');
const path = require('path');

(async () => {
  const text = process.argv[2];
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nöde-'));
  for (const name of [text, 'Ωmega', '漢字']) {
    await fs.writeFile(path.join(dir, name + '.txt'), text);
  }
  const names = (await fs.readdir(dir)).sort();
  console.log('tmpdir', os.tmpdir());
  console.log('names', JSON.stringify(names));
  const back = await fs.readFile(path.join(dir, text + '.txt'), 'utf8');
  console.log('chars', [...back].length, 'bytes', Buffer.byteLength(back));
  await fs.rm(dir, { recursive: true });
  console.log('removed', !(await fs.stat(dir).then(() => true, () => false)));
})();
