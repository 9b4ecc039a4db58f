/**
 * @file The import graph of what ships, read with TypeScript's own parser and module resolution (the same resolution
 * `tsc -p .` uses), so that "shipping code never imports the lab" and "runtime dependencies are what ships imports"
 * are checked facts rather than conventions.
 *
 * What ships: the app (index.html's module script and everything it reaches, workers included) and the CLI (the files
 * package.json's "bin" names and everything they reach). An edge is every static import / export-from, `import type`,
 * `import()` with a literal, `require()` with a literal, and `new URL('<literal>', import.meta.url)` (how Vite and
 * Node find workers and child scripts).
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

/** One import found in a file. */
export interface ImportEdge {
  /** Repo-relative path of the importing file (POSIX separators). */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Repo-relative path of the resolved file, or null for a package / built-in / unresolved specifier. */
  to: string | null;
  /** The package name for a bare specifier (`@scope/name` or `name`), else null. */
  pkg: string | null;
  /** True when the edge is erased at runtime (`import type`, `export type`, type-only named imports). */
  typeOnly: boolean;
}

/** What {@link shippingGraph} found. */
export interface ShippingGraph {
  /** Entry points (repo-relative). */
  entries: string[];
  /** Every file reached from the entries (repo-relative, sorted). */
  files: string[];
  /** Every import edge out of a reached file. */
  edges: ImportEdge[];
}

/** A broken house rule. */
export interface Violation {
  rule: 'outside-src' | 'test-code' | 'unreached' | 'undeclared-dependency' | 'unused-dependency' | 'unresolved';
  detail: string;
}

const CODE_EXT = /\.(ts|tsx|mts|cts|js|mjs|cjs|jsx)$/;
const TEST_FILE = /\.(test|spec|bench)\.(ts|tsx|mts|js|mjs)$|\.testutil\.|(^|\/)__snapshots__\//;
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const posix = (p: string) => p.split(path.sep).join('/');

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for a relative / absolute path. */
export function packageOf(specifier: string): string | null {
  if (
    specifier.startsWith('.') ||
    specifier.startsWith('/') ||
    BUILTINS.has(specifier) ||
    specifier.startsWith('node:')
  )
    return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Compiler options of the repo's tsconfig.json (module resolution as `tsc -p .` does it). */
function compilerOptions(root: string): ts.CompilerOptions {
  const file = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}

/** Specifiers a source file imports, with whether each is erased at runtime. */
export function importsOf(file: string, text: string): Array<{ specifier: string; typeOnly: boolean }> {
  const kind = /\.tsx$/.test(file) ? ts.ScriptKind.TSX : /\.(m|c)?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const out: Array<{ specifier: string; typeOnly: boolean }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly =
        !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true });
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1 && ts.isStringLiteralLike(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) {
        out.push({ specifier: node.arguments[0].text, typeOnly: false });
      }
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL' &&
      node.arguments?.length === 2 &&
      ts.isStringLiteralLike(node.arguments[0]) &&
      node.arguments[1].getText(sf) === 'import.meta.url'
    ) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Module scripts of an HTML page (`<script type="module" src="…">`), as repo-relative paths. */
function htmlEntries(root: string, html: string): string[] {
  const text = fs.readFileSync(path.join(root, html), 'utf8');
  const srcs = [...text.matchAll(/<script\b[^>]*\bsrc=["']([^"']+)["'][^>]*>/g)].map((m) => m[1]);
  return srcs.map((s) => (s.startsWith('/') ? s.slice(1) : posix(path.join(path.dirname(html), s))));
}

/** The shipping entry points: index.html's module scripts and package.json's "bin" files. */
export function shippingEntries(root: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  return [...htmlEntries(root, 'index.html'), ...bins.map((b) => posix(path.normalize(b)))];
}

/** Resolves the imports of a file of the repo at `root` as `tsc -p .` does (a relative path TypeScript does not
 * resolve, e.g. a CSS file or a child script, is taken as the file it names). */
function edgeResolver(root: string) {
  const options = compilerOptions(root);
  const host = ts.createCompilerHost(options);
  return (rel: string): ImportEdge[] => {
    const abs = path.join(root, rel);
    if (!CODE_EXT.test(rel) || !fs.existsSync(abs)) return [];
    return importsOf(abs, fs.readFileSync(abs, 'utf8')).map(({ specifier, typeOnly }) => {
      const pkg = packageOf(specifier);
      let to: string | null = null;
      if (pkg === null && !BUILTINS.has(specifier) && !specifier.startsWith('node:')) {
        const bare = specifier.replace(/[?#].*$/, '');
        const resolved = ts.resolveModuleName(bare, abs, options, host).resolvedModule?.resolvedFileName;
        const direct = path.resolve(path.dirname(abs), bare);
        const file = resolved ?? (fs.existsSync(direct) && fs.statSync(direct).isFile() ? direct : null);
        to = file ? posix(path.relative(root, file)) : `<unresolved> ${posix(path.relative(root, direct))}`;
      }
      return { from: rel, specifier, to, pkg, typeOnly };
    });
  };
}

/** Follows every import from the shipping entry points of the repo at `root`. */
export function shippingGraph(root: string): ShippingGraph {
  const edgesOf = edgeResolver(root);
  const entries = shippingEntries(root);
  const seen = new Set<string>();
  const edges: ImportEdge[] = [];
  const queue = [...entries];
  while (queue.length) {
    const rel = queue.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    for (const e of edgesOf(rel)) {
      edges.push(e);
      if (e.to && !e.to.startsWith('<unresolved>')) queue.push(e.to);
    }
  }
  return { entries, files: [...seen].sort(), edges };
}

/** Every import of every code file under `dir`, tests included (repo-relative). */
export function edgesUnder(root: string, dir: string): ImportEdge[] {
  const edgesOf = edgeResolver(root);
  return codeFilesUnder(root, dir, true).flatMap(edgesOf);
}

/** Every code file under `dir` (repo-relative), test files only when `tests`. */
function codeFilesUnder(root: string, dir: string, tests = false): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = posix(path.join(rel, e.name));
      if (e.isDirectory()) walk(r);
      else if (CODE_EXT.test(e.name) && (tests || !TEST_FILE.test(r)) && !r.endsWith('.d.ts')) out.push(r);
    }
  };
  if (fs.existsSync(path.join(root, dir))) walk(dir);
  return out.sort();
}

/** What {@link houseViolations} allows beyond `src/`. */
export interface HouseOptions {
  /** Folders shipping code may import data from (e.g. `models/` for registry.json). */
  data: string[];
  /** Packages that ship as served files rather than imports, each with the reason (kept in "dependencies"). */
  assetPackages: Record<string, string>;
}

/**
 * The house rules, checked on the repo at `root`:
 * - shipping code reaches only files under `src/` (and the data folders in `data`, e.g. models/registry.json), never
 *   the lab, e2e/, fixtures/ or a test file;
 * - every non-test code file under `src/` is reached from a shipping entry point (src/ holds what ships);
 * - package.json's runtime `dependencies` are exactly the packages shipping code imports at runtime, plus the asset
 *   packages.
 */
export function houseViolations(root: string, { data, assetPackages }: HouseOptions): Violation[] {
  const g = shippingGraph(root);
  const v: Violation[] = [];
  const binFiles = new Set(shippingEntries(root).filter((e) => !e.startsWith('src/')));
  for (const e of g.edges) {
    if (e.to?.startsWith('<unresolved>'))
      v.push({ rule: 'unresolved', detail: `${e.from} imports ${e.specifier} (${e.to})` });
    else if (e.to && TEST_FILE.test(e.to)) v.push({ rule: 'test-code', detail: `${e.from} imports test code ${e.to}` });
    else if (e.to && !e.to.startsWith('src/') && !binFiles.has(e.to) && !data.some((d) => e.to!.startsWith(d))) {
      v.push({ rule: 'outside-src', detail: `${e.from} imports ${e.to}, outside src/` });
    }
  }
  const reached = new Set(g.files);
  for (const f of codeFilesUnder(root, 'src'))
    if (!reached.has(f))
      v.push({ rule: 'unreached', detail: `${f} is under src/ but no shipping entry point imports it` });

  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const declared = new Set(Object.keys(pkg.dependencies ?? {}));
  const used = new Map<string, string>();
  for (const e of g.edges) if (e.pkg && !e.typeOnly && !used.has(e.pkg)) used.set(e.pkg, e.from);
  for (const [p, from] of used)
    if (!declared.has(p))
      v.push({ rule: 'undeclared-dependency', detail: `${from} imports ${p}, not in package.json "dependencies"` });
  for (const p of Object.keys(assetPackages)) used.set(p, 'served files');
  for (const p of declared)
    if (!used.has(p))
      v.push({ rule: 'unused-dependency', detail: `"dependencies" lists ${p}, which no shipping file imports` });
  return v;
}
