// The entry of `npm run admin`: Node (22.6 and later) runs cli.ts by stripping its types.
import { main } from "./cli.ts";

process.exitCode = await main(process.argv.slice(2));
