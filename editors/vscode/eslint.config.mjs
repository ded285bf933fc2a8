// ESLint looks up the config nearest to each file: this one applies the root rules to the extension
// and keeps the esbuild bundles (dist/, git-ignored) out of linting.
import root from '../../eslint.config.js';

export default [{ ignores: ['dist/**', 'e2e-output/**'] }, ...root];
