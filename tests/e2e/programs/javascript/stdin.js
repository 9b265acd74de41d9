const fs = require("fs");
const data = fs.readFileSync(0, "utf8");
const lines = data.split("\n");
if (lines.length && lines[lines.length - 1] === "") lines.pop();
lines.forEach((l, i) => console.log(`${i + 1}:${l.toUpperCase()}`));
console.log(`lines=${lines.length}`);
