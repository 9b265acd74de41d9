function explode() {
  throw new Error("boom from javascript");
}
console.log("about to throw");
explode();
