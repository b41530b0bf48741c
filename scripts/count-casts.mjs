// Counts type assertions (`x as T`, `<T>x`; not `as const`) in the given folders, per file, with
// `--list` each one: the seams where a type is asserted rather than derived.
//   node scripts/count-casts.mjs src/workflows src/activities [--list]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const list = process.argv.includes('--list');
const folders = process.argv.slice(2).filter((a) => a !== '--list');
const perFile = {};
let total = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) count(path);
  }
}

function count(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const visit = (node) => {
    const assertion = ts.isAsExpression(node) || ts.isTypeAssertionExpression(node);
    const asConst =
      assertion && ts.isTypeReferenceNode(node.type) && node.type.typeName.getText(source) === 'const';
    if (assertion && !asConst) {
      total++;
      perFile[file] = (perFile[file] ?? 0) + 1;
      if (list) {
        const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        console.log(`${file}:${line}: ${node.getText(source).replace(/\s+/g, ' ').slice(0, 100)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

for (const folder of folders) walk(folder);
for (const [file, n] of Object.entries(perFile)) console.log(`${String(n).padStart(4)}  ${file}`);
console.log(`${String(total).padStart(4)}  total`);
