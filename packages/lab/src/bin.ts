/** Entry point of `pnpm lab`: runs the lab and exits with its code (children and namespaces are gone by then). */
import { main } from './main.js';

process.exit(await main(process.argv.slice(2)));
