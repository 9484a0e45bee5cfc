// ESLint for the scripts inlined into the offline maps (every .js file under pipelines/,
// today pipelines/templates/), run by `make lint`. They are classic browser scripts (no
// modules, no build step) in ES5 syntax, run after the pinned Leaflet; what they draw
// comes from the page's JSON block (<script type="application/json" id="vigie-data">)
// or a JSON call argument, never from text written into their source.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: [".venv/", "build/", "data/", "maps/", "screenshots/"] },
  {
    files: ["pipelines/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 5,
      sourceType: "script",
      globals: {
        ...globals.es2015, // built-ins (Uint8Array…); the syntax stays ES5
        ...globals.browser,
        L: "readonly", // Leaflet, loaded before these scripts
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error",
    },
    rules: {
      ...js.configs.recommended.rules,
      // ES5 has no `catch {}`: an ignored error still needs a name.
      "no-unused-vars": ["error", { caughtErrors: "none" }],
    },
  },
];
