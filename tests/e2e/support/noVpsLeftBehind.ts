// After each e2e file: no sandbox VPS it booted may be left running. A file that leaves one behind fails,
// and its VPSes are torn down here, so the next file (and the next golden image build) starts on
// a clean machine. Registered as a root-level afterAll (setupFilesAfterEnv): it runs after the
// afterAll hooks of the file's describe blocks, where the files tear their VPSes down.
// Only the file's own VPSes: another run may share the sandbox (an e2e file beside a benchmark).
// E2E_KEEP=1 keeps VPSes for debugging, on purpose: then nothing is checked.
import { downVps, vpsesBootedHere } from "../../sandbox/sandbox";

afterAll(async () => {
  if (process.env.E2E_KEEP === "1") return;
  const left = vpsesBootedHere();
  if (left.length === 0) return;
  await downVps(...left);
  throw new Error(`this file left sandbox VPS ${left.join(", ")} running (now torn down): tear down what a file boots in its afterAll`);
}, 5 * 60_000);
