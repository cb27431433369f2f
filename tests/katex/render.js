// Renders each math snippet of a JSON list (stdin) with KaTeX; prints a JSON list of errors.
// Usage: node render.js KATEX_MODULE_DIR < snippets.json
const katex = require(process.argv[2]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const errors = [];
  for (const item of JSON.parse(input)) {
    try {
      katex.renderToString(item.tex, { displayMode: item.display, throwOnError: true, strict: "error" });
    } catch (err) {
      errors.push({ tex: item.tex, error: String(err.message || err) });
    }
  }
  process.stdout.write(JSON.stringify(errors));
});
