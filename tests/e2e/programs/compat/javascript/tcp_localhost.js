// A TCP server and client in one process over "localhost" (dns.lookup -> getaddrinfo).
const net = require('net');

const server = net.createServer((sock) => {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      sock.write(line.split('').reverse().join('') + '\n');
    }
  });
  sock.on('end', () => sock.end());
});

server.listen(0, 'localhost', () => {
  const { port, address } = server.address();
  console.log('listening on loopback', address === '127.0.0.1' || address === '::1');
  const c = net.connect({ port, host: 'localhost' });
  const words = ['alpha', 'beta', 'gamma'];
  let got = '';
  c.setEncoding('utf8');
  c.on('connect', () => { c.write(words.join('\n') + '\n'); c.end(); });
  c.on('data', (d) => { got += d; });
  c.on('end', () => {
    process.stdout.write(got);
    server.close(() => console.log('closed'));
  });
});
