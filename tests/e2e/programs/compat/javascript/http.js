// http: a server on 127.0.0.1 and a client of it, with JSON.
const http = require('http');

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const data = JSON.parse(body);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, sum: data.numbers.reduce((a, b) => a + b, 0) }));
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/sum?x=1' }, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      console.log(res.statusCode, res.headers['content-type'], body);
      server.close();
    });
  });
  req.end(JSON.stringify({ numbers: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }));
});
