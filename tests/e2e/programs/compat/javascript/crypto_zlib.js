// crypto hashes and zlib round trips.
const crypto = require('crypto');
const zlib = require('zlib');

const text = process.argv[2].repeat(1000);
console.log('sha256', crypto.createHash('sha256').update(text).digest('hex'));
console.log('md5', crypto.createHash('md5').update(text).digest('hex'));
const gz = zlib.gzipSync(text);
console.log('gzip roundtrip', zlib.gunzipSync(gz).toString() === text, 'smaller', gz.length < text.length);
console.log('brotli roundtrip', zlib.brotliDecompressSync(zlib.brotliCompressSync(text)).toString() === text);
console.log('random', crypto.randomBytes(16).length);
