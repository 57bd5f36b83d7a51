// Ends each jest run with one plain line, "jest: N passed, N failed, N skipped", that CI reads.
// Printed at exit so that it comes after jest's own summary.
//
// In CI (CI=true) and as root, where every requirement can be installed, a skipped test fails the
// run: jest exits non-zero when a reporter reports an error. A test can then only skip for a
// developer without root, and the line above says how many did.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped\n`;
    process.once("exit", () => process.stderr.write(line));
    const strict = process.env.CI === "true" || (typeof process.getuid === "function" && process.getuid() === 0);
    if (strict && results.numPendingTests > 0) {
      const skipped = results.testResults.flatMap((file) => file.testResults
        .filter((t) => t.status === "pending")
        .map((t) => `  ${file.testFilePath.replace(`${process.cwd()}/`, "")} › ${t.fullName}`));
      this.error = new Error(`${results.numPendingTests} test(s) skipped; in CI and as root every test must run:\n${skipped.join("\n")}`);
      process.stderr.write(`${this.error.message}\n`);
    }
  }

  getLastError() {
    return this.error;
  }
}
module.exports = SummaryReporter;
