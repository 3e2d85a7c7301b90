// Apache ECharts tree-shaken the way its docs describe ("import echarts/core" and register only
// the charts and components used): parallel, scatter, line and bar charts on the canvas
// renderer, 0.66 MB minified. Regenerate after changing entry.js or the version:
//   cd tools/echarts-bundle && npm install && npm run build
const esbuild = require('esbuild');
const version = require('echarts/package.json').version;

esbuild
  .build({
    entryPoints: ['entry.js'],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2016',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    banner: {
      js:
        `/* Apache ECharts ${version} (parallel, scatter, line, bar; canvas), built by ` +
        'tools/echarts-bundle. Apache License 2.0: vendor/ECHARTS-LICENSE, vendor/ECHARTS-NOTICE */',
    },
    outfile: '../../runner/analysis/vendor/echarts-explorer.min.js',
    logLevel: 'warning',
  })
  .catch(() => process.exit(1));
