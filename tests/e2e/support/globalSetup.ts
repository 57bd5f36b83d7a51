// Runs once before the e2e suite's first file. Everything the files share that takes minutes to
// build is built here, before any test boots a VPS: the Pulumi engine and the test servers are
// built by `npm run test:e2e` itself (tests/engine/build.sh); the sandbox's golden images here.
// A file that boots VPSes in parallel on a machine that has never built an image would otherwise
// have one boot build the image while its siblings already run on the other one, which the
// sandbox refuses.
import { buildGoldenImages } from "../../sandbox/sandbox";
import { buildCompressor } from "./compressor";
import { unmet } from "./requirements";

export default async function globalSetup(): Promise<void> {
  // Without the sandbox each file says so itself (and fails in CI or as root): nothing to build.
  if (unmet(["sandbox"]).length > 0) return;
  const t0 = Date.now();
  await buildGoldenImages();
  process.stderr.write(`e2e: sandbox golden images ready (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  // The trap scenario puts the compressor in place before its first apply (its build on a VPS
  // takes minutes at idle priority); built here once per recipe, cached with the engine.
  if (unmet(["cargo"]).length === 0) {
    const t1 = Date.now();
    await buildCompressor();
    process.stderr.write(`e2e: the state compressor for the tests is ready (${((Date.now() - t1) / 1000).toFixed(0)} s)\n`);
  }
}
