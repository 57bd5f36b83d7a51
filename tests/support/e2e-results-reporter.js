// After a complete, passing e2e run (every file of tests/e2e ran, none failed, none skipped),
// writes what it measured to docs/results/e2e.json: the figures the tests recorded
// (test-output/e2e/figures.json) and their tables of seconds. The README and docs/ quote those
// figures through generated blocks (npm run gen), so every figure there comes from a run. A
// partial run (one file, a failure) writes nothing.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.join(__dirname, "..", "..");
const e2eDir = path.join(root, "tests", "e2e");
const outputDir = path.join(root, "test-output", "e2e");
const resultsFile = path.join(root, "docs", "results", "e2e.json");

class E2eResultsReporter {
  onRunComplete(_contexts, results) {
    const ran = results.testResults.filter((f) => f.testFilePath.startsWith(`${e2eDir}${path.sep}`));
    if (ran.length === 0) return;
    const all = fs.readdirSync(e2eDir).filter((f) => f.endsWith(".test.ts")).sort();
    const passed = ran.filter((f) => !f.testExecError && f.numFailingTests === 0 && f.numPendingTests === 0 && f.numPassingTests > 0)
      .map((f) => path.basename(f.testFilePath)).sort();
    if (passed.join(",") !== all.join(",")) return;
    const read = (f) => JSON.parse(fs.readFileSync(path.join(outputDir, f), "utf8"));
    const tables = {};
    for (const f of fs.readdirSync(outputDir).filter((f) => f.endsWith(".json") && f !== "figures.json")) tables[f.replace(/\.json$/, "")] = read(f);
    const cpus = os.cpus();
    const results_ = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus.length} × ${cpus[0]?.model ?? "unknown"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}`,
      seconds: Math.round((Date.now() - results.startTime) / 1000),
      figures: fs.existsSync(path.join(outputDir, "figures.json")) ? read("figures.json") : {},
      tables,
    };
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(resultsFile, `${JSON.stringify(results_, null, 2)}\n`);
    process.stderr.write(`e2e: every file passed; wrote ${path.relative(root, resultsFile)} (npm run gen puts its figures in the docs)\n`);
  }
}
module.exports = E2eResultsReporter;
