// The longest functions (and methods, accessors, arrow functions) of the given folders, by lines, over
// TypeScript's AST, and the files over 500 lines: the house's size figures, before and after a change.
//   node scripts/function-sizes.mjs src [--top 10]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 10;
const folders = args.filter((a, i) => a !== '--top' && i !== topAt + 1);
const functions = [];
const bigFiles = [];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ts|mjs|js)$/.test(path) && !path.endsWith('.d.ts')) measure(path);
  }
}

function nameOf(node) {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)))
    return parent.name.getText();
  return '(anonymous)';
}

function measure(path) {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n').length;
  if (lines > 500) bigFiles.push([lines, path]);
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    const isFunction =
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessor(node);
    if (isFunction && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.end).line;
      functions.push([end - start + 1, `${path}:${start + 1} ${nameOf(node)}`]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

for (const folder of folders.length > 0 ? folders : ['src']) walk(folder);
functions.sort((a, b) => b[0] - a[0]);
for (const [lines, where] of functions.slice(0, top)) console.log(`${String(lines).padStart(4)}  ${where}`);
console.log('files over 500 lines:');
for (const [lines, path] of bigFiles.sort((a, b) => b[0] - a[0]))
  console.log(`${String(lines).padStart(4)}  ${path}`);
