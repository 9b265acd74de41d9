// dns.lookup (getaddrinfo): localhost and the sandbox's host name.
const dns = require('dns').promises;
const os = require('os');

(async () => {
  const all = await dns.lookup('localhost', { all: true });
  console.log('localhost', all.map((a) => a.address).sort().join(' '));
  const v4 = await dns.lookup('localhost', { family: 4 });
  console.log('localhost4', v4.address);
  console.log('hostname', os.hostname(), (await dns.lookup(os.hostname(), { family: 4 })).address);
})();
