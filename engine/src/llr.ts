function xLogX(x: number): number {
  return x === 0 ? 0 : x * Math.log(x);
}

/** Unnormalized Shannon entropy of counts: N·H. */
function entropy(...counts: number[]): number {
  let sum = 0;
  let result = 0;
  for (const count of counts) {
    result += xLogX(count);
    sum += count;
  }
  return xLogX(sum) - result;
}

/**
 * Dunning's log-likelihood ratio (G²) of a 2x2 contingency table:
 *   k11 users with both A and B, k12 with A only, k21 with B only, k22 with neither.
 * Large when A and B occur together more (or less) often than independence predicts; it does
 * not reward rare items the way raw ratios do.
 */
export function logLikelihoodRatio(k11: number, k12: number, k21: number, k22: number): number {
  const rowEntropy = entropy(k11 + k12, k21 + k22);
  const columnEntropy = entropy(k11 + k21, k12 + k22);
  const matrixEntropy = entropy(k11, k12, k21, k22);
  // rounding can make the difference slightly negative for independent counts
  return rowEntropy + columnEntropy < matrixEntropy ? 0 : 2 * (rowEntropy + columnEntropy - matrixEntropy);
}

/**
 * The LLR of item B given item A, or 0 when B is not *more* likely with A than without it.
 * nA, nB: users with A, with B; nAB: users with both; total: users in the population.
 */
export function associationScore(nAB: number, nA: number, nB: number, total: number): number {
  if (nAB <= 0 || nA <= 0 || total <= 0) return 0;
  const k12 = Math.max(0, nA - nAB);
  const k21 = Math.max(0, nB - nAB);
  const k22 = Math.max(0, total - nA - nB + nAB);
  if (nAB / nA <= (nAB + k21) / Math.max(total, nAB + k12 + k21 + k22)) return 0;
  return logLikelihoodRatio(nAB, k12, k21, k22);
}
