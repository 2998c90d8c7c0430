/**
 * A LightGBM model as `booster.dump_model()` writes it, evaluated in TypeScript, so serving needs
 * no Python. Only what prediction reads is kept: per tree its nodes (split feature, threshold,
 * decision type, missing-value handling, children) and leaf values. The raw score of a row is the
 * sum of its leaf in every tree (LightGBM's `predict(raw_score=True)`; for lambdarank, what it
 * predicts anyway).
 */

/** A split as dump_model() writes it. */
interface DumpSplit {
  readonly split_feature: number;
  readonly threshold: number | string;
  readonly decision_type: '<=' | '==';
  readonly default_left: boolean;
  readonly missing_type: 'None' | 'Zero' | 'NaN';
  readonly left_child: DumpNode;
  readonly right_child: DumpNode;
}
interface DumpLeaf {
  readonly leaf_value: number;
}
type DumpNode = DumpSplit | DumpLeaf;

/** The part of dump_model()'s JSON the scorer reads. */
export interface LightgbmDump {
  readonly version?: string;
  readonly objective?: string;
  readonly feature_names: readonly string[];
  readonly average_output?: boolean;
  readonly tree_info: readonly { readonly shrinkage?: number; readonly tree_structure: DumpNode }[];
  /** Ours, not LightGBM's: the serving penalty on popular products (see PopularityPenalty). */
  readonly recs_popularity_penalty?: PopularityPenalty;
}

/**
 * A penalty on popular products applied after the trees: `weight` × log2(1 + the row's
 * `feature`) is taken off a row's score (a missing or negative value: none), so among items the
 * trees score alike the less bought ones go first. The training job chooses the weight on its
 * holdout (the largest that costs it no NDCG) and stores it with the model's dump, so every
 * process that loads the model ranks with it.
 */
export interface PopularityPenalty {
  readonly feature: string;
  readonly weight: number;
}

const MISSING = { None: 0, Zero: 1, NaN: 2 } as const;

/**
 * The trees flattened into arrays (one entry per node; a child index < 0 is leaf ~index), so
 * scoring a row walks typed arrays instead of objects.
 */
interface FlatTree {
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  /** Per node: 0 numerical, 1 categorical (the categories in `categories[node]`). */
  readonly categorical: Uint8Array;
  readonly categories: readonly (ReadonlySet<number> | undefined)[];
  readonly defaultLeft: Uint8Array;
  readonly missing: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly leaves: Float64Array;
}

export class ModelFormatError extends Error {
  override readonly name = 'ModelFormatError';
}

/** LightGBM's kZeroThreshold: |x| at or below it counts as zero for missing_type Zero. */
const ZERO_THRESHOLD = 1e-35;

function isLeaf(node: DumpNode): node is DumpLeaf {
  return typeof (node as DumpLeaf).leaf_value === 'number';
}

function flatten(root: DumpNode, features: number, at: string): FlatTree {
  const splits: DumpSplit[] = [];
  const leaves: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  /** Index of a node: >= 0 a split, < 0 the leaf ~index. */
  const visit = (node: DumpNode): number => {
    if (isLeaf(node)) {
      leaves.push(node.leaf_value);
      return ~(leaves.length - 1);
    }
    const split = node as DumpSplit;
    if (!Number.isInteger(split.split_feature) || split.split_feature < 0 || split.split_feature >= features)
      throw new ModelFormatError(`${at}: split_feature ${String(split.split_feature)} is not one of the model's ${features} features`);
    if (split.decision_type !== '<=' && split.decision_type !== '==') throw new ModelFormatError(`${at}: unknown decision_type ${String(split.decision_type)}`);
    if (!(split.missing_type in MISSING)) throw new ModelFormatError(`${at}: unknown missing_type ${String(split.missing_type)}`);
    if (split.left_child === undefined || split.right_child === undefined) throw new ModelFormatError(`${at}: a split without two children`);
    const index = splits.length;
    splits.push(split);
    left.push(0);
    right.push(0);
    left[index] = visit(split.left_child);
    right[index] = visit(split.right_child);
    return index;
  };
  const top = visit(root);
  if (top < 0) {
    // a tree that is one leaf: a split-free node list, scored as its leaf
    return {
      feature: new Int32Array(0),
      threshold: new Float64Array(0),
      categorical: new Uint8Array(0),
      categories: [],
      defaultLeft: new Uint8Array(0),
      missing: new Uint8Array(0),
      left: new Int32Array(0),
      right: new Int32Array(0),
      leaves: Float64Array.from(leaves),
    };
  }
  return {
    feature: Int32Array.from(splits, (s) => s.split_feature),
    threshold: Float64Array.from(splits, (s) => (s.decision_type === '<=' ? Number(s.threshold) : 0)),
    categorical: Uint8Array.from(splits, (s) => (s.decision_type === '==' ? 1 : 0)),
    categories: splits.map((s) => (s.decision_type === '==' ? new Set(String(s.threshold).split('||').map(Number)) : undefined)),
    defaultLeft: Uint8Array.from(splits, (s) => (s.default_left ? 1 : 0)),
    missing: Uint8Array.from(splits, (s) => MISSING[s.missing_type]),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    leaves: Float64Array.from(leaves),
  };
}

/** LightGBM's NumericalDecision / CategoricalDecision for one node: true goes left. */
function goesLeft(tree: FlatTree, node: number, value: number): boolean {
  if (tree.categorical[node] === 1) {
    // a missing or negative category always goes right (LightGBM 4's CategoricalDecision)
    if (Number.isNaN(value)) return false;
    const category = Math.trunc(value);
    return category >= 0 && tree.categories[node]!.has(category);
  }
  const missing = tree.missing[node]!;
  if (Number.isNaN(value) && missing !== MISSING.NaN) value = 0;
  if ((missing === MISSING.Zero && Math.abs(value) <= ZERO_THRESHOLD) || (missing === MISSING.NaN && Number.isNaN(value))) return tree.defaultLeft[node] === 1;
  return value <= tree.threshold[node]!;
}

/** A LightGBM model ready to score rows of its features (in `featureNames`' order). */
export class LightgbmModel {
  readonly featureNames: readonly string[];
  readonly objective: string;
  readonly penalty: PopularityPenalty | undefined;
  private readonly trees: readonly FlatTree[];
  private readonly average: boolean;
  /** The penalty's column, -1 without one. */
  private readonly penaltyColumn: number;

  private constructor(dump: LightgbmDump, trees?: readonly FlatTree[]) {
    this.featureNames = dump.feature_names;
    this.objective = dump.objective ?? '';
    this.average = dump.average_output === true;
    this.trees = trees ?? dump.tree_info.map((tree, i) => flatten(tree.tree_structure, dump.feature_names.length, `tree ${i}`));
    const penalty = dump.recs_popularity_penalty;
    if (penalty === undefined || penalty.weight === 0) {
      this.penalty = undefined;
      this.penaltyColumn = -1;
    } else {
      if (typeof penalty.weight !== 'number' || !Number.isFinite(penalty.weight) || penalty.weight < 0)
        throw new ModelFormatError(`recs_popularity_penalty: weight ${String(penalty.weight)} is not a number at or above 0`);
      this.penaltyColumn = dump.feature_names.indexOf(penalty.feature);
      if (this.penaltyColumn < 0) throw new ModelFormatError(`recs_popularity_penalty: ${String(penalty.feature)} is not one of the model's features`);
      this.penalty = { feature: penalty.feature, weight: penalty.weight };
    }
  }

  /** The same trees under another popularity penalty (weight 0: none). */
  withPenalty(penalty: PopularityPenalty): LightgbmModel {
    return new LightgbmModel(
      { feature_names: this.featureNames, objective: this.objective, average_output: this.average, tree_info: [], recs_popularity_penalty: penalty },
      this.trees,
    );
  }

  /** What the penalty takes off a row's score (0 without one). */
  penaltyOf(row: ArrayLike<number>): number {
    if (this.penaltyColumn < 0) return 0;
    const value = row[this.penaltyColumn]!;
    return value > 0 ? this.penalty!.weight * Math.log2(1 + value) : 0;
  }

  /** A model from dump_model()'s JSON (text or parsed); a ModelFormatError when it is not one. */
  static fromDump(dump: unknown): LightgbmModel {
    const parsed = typeof dump === 'string' ? (JSON.parse(dump) as unknown) : dump;
    const candidate = parsed as Partial<LightgbmDump> | null;
    if (candidate === null || typeof candidate !== 'object' || !Array.isArray(candidate.feature_names) || !Array.isArray(candidate.tree_info))
      throw new ModelFormatError('not a LightGBM dump_model() JSON: no feature_names or tree_info');
    if (candidate.tree_info.some((tree) => tree === null || typeof tree !== 'object' || tree.tree_structure === undefined))
      throw new ModelFormatError('a tree_info entry has no tree_structure');
    return new LightgbmModel(candidate as LightgbmDump);
  }

  /** How many trees the model has. */
  get treeCount(): number {
    return this.trees.length;
  }

  /** The score a row is ranked by: the trees' (treeScore) less the popularity penalty. */
  score(row: ArrayLike<number>): number {
    return this.treeScore(row) - this.penaltyOf(row);
  }

  /** The raw score of one row (missing values as NaN): LightGBM's own prediction. */
  treeScore(row: ArrayLike<number>): number {
    if (row.length !== this.featureNames.length)
      throw new ModelFormatError(`a row of ${row.length} values for a model of ${this.featureNames.length} features`);
    let sum = 0;
    for (const tree of this.trees) {
      let node = tree.feature.length === 0 ? -1 : 0;
      while (node >= 0) node = goesLeft(tree, node, row[tree.feature[node]!]!) ? tree.left[node]! : tree.right[node]!;
      sum += tree.leaves[~node]!;
    }
    return this.average && this.trees.length > 0 ? sum / this.trees.length : sum;
  }
}

/** A dump_model() JSON text with `penalty` stored in it (weight 0: none), as the training job saves a model. */
export function dumpWithPenalty(dump: string, penalty: PopularityPenalty): string {
  const { recs_popularity_penalty: _, ...rest } = JSON.parse(dump) as LightgbmDump;
  return JSON.stringify(penalty.weight === 0 ? rest : { ...rest, recs_popularity_penalty: penalty });
}
