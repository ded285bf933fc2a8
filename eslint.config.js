// Lint with zero warnings (`npm run lint` uses --max-warnings 0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers (docs/architecture.md): util < ir < grammar, compiler | runtime < interop | report < cli. Each folder
 * lists the folders of ours it may NOT import; test/architecture.test.ts checks the same rules and
 * the import loops over the whole graph. `regex` matches the import specifier.
 */
const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ regex: `^\\.{1,2}/(?:\\.\\./)*(?:${forbidden.join('|')})/`, message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'runs/**', '.gpu/**', 'docs/**', 'coverage/**', 'grammar/cst.d.ts', 'scratch*', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layer(['util/**/*.ts'], ['grammar', 'ir', 'compiler', 'runtime', 'interop', 'report', 'cli'], 'util/ holds generic helpers and imports nothing of ours.'),
  layer(['ir/**/*.ts'], ['grammar', 'compiler', 'runtime', 'interop', 'report', 'cli'], 'ir/ is the contract below compiler and runtime: it imports only util/.'),
  layer(['grammar/**/*.ts'], ['ir', 'compiler', 'runtime', 'interop', 'report', 'cli'], 'grammar/ imports only util/.'),
  layer(['compiler/**/*.ts'], ['runtime', 'interop', 'report', 'cli'], 'compiler/ may import grammar/, ir/ and util/, never runtime/ (HF interop lives in interop/).'),
  layer(['runtime/**/*.ts'], ['compiler', 'grammar', 'interop', 'report', 'cli'], 'runtime/ reads the IR (ir/) and util/ only; what needs the compiler belongs in interop/ or cli/, reporting (plots) in report/.'),
  layer(['interop/**/*.ts'], ['report', 'cli'], 'interop/ sits below cli/, beside report/.'),
  layer(['report/**/*.ts'], ['compiler', 'grammar', 'interop', 'cli'], 'report/ reads what the runtime wrote (runtime/, ir/, util/) and sits below cli/.'),
  {
    files: ['bin/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
