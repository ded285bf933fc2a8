/** Files are written to a staging name and renamed into place, so a crash never leaves half a file. */
export { writeFileAtomic as writeAtomic } from '../runtime/io/atomic.js';
