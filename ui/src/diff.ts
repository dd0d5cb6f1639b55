// A line diff (longest common subsequence) between two versions' JSON.

export interface DiffLine {
  op: " " | "+" | "-";
  text: string;
  a?: number; // line in the old text (1-based)
  b?: number; // line in the new text
}

export function diffLines(oldText: string, newText: string): DiffLine[] {
  const a = oldText.split("\n");
  const b = newText.split("\n");
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i:] and b[j:]
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: " ", text: a[i], a: i + 1, b: j + 1 });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: "-", text: a[i], a: i + 1 });
      i++;
    } else {
      out.push({ op: "+", text: b[j], b: j + 1 });
      j++;
    }
  }
  for (; i < n; i++) out.push({ op: "-", text: a[i], a: i + 1 });
  for (; j < m; j++) out.push({ op: "+", text: b[j], b: j + 1 });
  return out;
}
