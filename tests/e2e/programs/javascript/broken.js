console.log("Hello, this line never runs");
function broken( {
}
