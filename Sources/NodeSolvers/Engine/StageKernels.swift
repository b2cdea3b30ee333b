import NodeCore

// The arithmetic of a Runge–Kutta step over a block of rows. Every function
// treats each row (sample) on its own, in a fixed order of operations, so a
// row's result never depends on the other rows or on their number.

/// A linear combination `Σ_j w_j k_j` of stage derivatives: the nonzero
/// weights of one row of a tableau and the stages they weigh, in stage order.
struct StageCombination<Scalar: TensorScalar> {
  /// The nonzero weights, in stage order.
  let weights: [Scalar]
  /// The stage each weight multiplies.
  let stages: [UnsafePointer<Scalar>]

  /// The combination of `row`'s nonzero weights (converted to `Scalar`) over `stages`.
  init(_ row: [Double], of stages: [UnsafeMutablePointer<Scalar>]) {
    let used = row.indices.filter { row[$0] != 0 }
    weights = used.map { Scalar(row[$0]) }
    self.stages = used.map { UnsafePointer(stages[$0]) }
  }

  /// Whether every weight is zero.
  var isEmpty: Bool { weights.isEmpty }

  /// Writes `Σ_j w_j k_j` over `count` contiguous elements into `out`
  /// (the combination is not empty).
  func sum(count: Int, into out: UnsafeMutablePointer<Scalar>) {
    combine(count: count, base: nil, into: out)
  }

  /// `out = y + h ⊙ Σ_j w_j k_j` over `count` elements, with the step size
  /// spread over each row's elements in `h`: a stage input (weights `a_sj`) or
  /// the step's solution (weights `b_j`); `y` itself without weights.
  func apply(
    count: Int, states y: UnsafePointer<Scalar>, elementSteps h: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>
  ) {
    if isEmpty {
      out.update(from: y, count: count)
      return
    }
    combine(count: count, base: (y, h), into: out)
  }

  /// One pass of ``Elementwise/linearCombination(weights:terms:termCount:count:base:into:)``.
  private func combine(
    count: Int, base: (values: UnsafePointer<Scalar>, scales: UnsafePointer<Scalar>)?,
    into out: UnsafeMutablePointer<Scalar>
  ) {
    weights.withUnsafeBufferPointer { w in
      stages.withUnsafeBufferPointer { k in
        Elementwise.linearCombination(
          weights: w.baseAddress!, terms: k.baseAddress!, termCount: w.count, count: count,
          base: base, into: out)
      }
    }
  }
}

/// The squared-error sums `Σ_d (h e_d / (atol + rtol · max(|y₀|, |y₁|)))²` of
/// each row over its first `controlled` of `dimension` components, with
/// `e = Σ_j e_j k_j` already in `errorSum` (overwritten by the terms) and the
/// row's step spread over its elements in `elementSteps`. A row whose new
/// state is non-finite in any component, controlled or not, gets NaN.
func scaledErrorSquares<Scalar: TensorScalar>(
  rows: Int, dimension: Int, controlled: Int, errorSum: UnsafeMutablePointer<Scalar>,
  elementSteps h: UnsafePointer<Scalar>, start y0: UnsafePointer<Scalar>,
  end y1: UnsafePointer<Scalar>, relativeTolerance rtol: Scalar, absoluteTolerance atol: Scalar,
  into squares: UnsafeMutablePointer<Scalar>
) {
  // The divisions in one vector pass over every element; the row sums in order.
  let terms = errorSum
  Elementwise.scaledErrorSquares(
    count: rows * dimension, errorSum: errorSum, steps: h, start: y0, end: y1,
    relativeTolerance: rtol, absoluteTolerance: atol, into: terms)
  controlledRowSums(terms, rows: rows, dimension: dimension, controlled: controlled, into: squares)
  // A NaN term is a non-finite controlled component (or error), already in
  // the sum; the other components need only be finite.
  guard controlled < dimension else { return }
  for r in 0..<rows
  where !Elementwise.allFinite(y1 + r * dimension + controlled, count: dimension - controlled) {
    squares[r] = .nan
  }
}

/// Each row's sum of its first `controlled` of `dimension` values, in order.
func controlledRowSums<Scalar: TensorScalar>(
  _ values: UnsafePointer<Scalar>, rows: Int, dimension: Int, controlled: Int,
  into sums: UnsafeMutablePointer<Scalar>
) {
  for r in 0..<rows {
    let base = r * dimension
    var sum: Scalar = 0
    for d in base..<(base + controlled) { sum = sum + values[d] }
    sums[r] = sum
  }
}

/// Whether every element of row `r` is finite.
func rowIsFinite<Scalar: TensorScalar>(
  _ values: UnsafePointer<Scalar>, row r: Int, dimension: Int
) -> Bool {
  Elementwise.allFinite(values + r * dimension, count: dimension)
}
