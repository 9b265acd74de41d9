// Time zones: the process default (TZ unset: /etc/localtime) and Intl with Europe/Paris.
const times = process.argv.slice(2).map(Number);
console.log('resolved', Intl.DateTimeFormat().resolvedOptions().timeZone);
const paris = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  timeZoneName: 'longOffset',
});
for (const t of times) {
  const d = new Date(t * 1000);
  const p = Object.fromEntries(paris.formatToParts(d).map((x) => [x.type, x.value]));
  console.log(t, 'offset', d.getTimezoneOffset(), 'local', d.toISOString(),
    'paris', `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`);
}
