console.log("before exit");
process.exitCode = 3;
