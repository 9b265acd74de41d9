console.log("Hello from javascript");
