import NodeCore
import RealModule

/// The softmax cross-entropy of class logits, and its gradient.
public enum SoftmaxCrossEntropy {
  /// For logits `[B, K]` and labels in `0..<K`: each row's loss
  /// `log Σ_j e^{z_j} − z_label` (computed with the row's maximum subtracted)
  /// into `losses`, and `∂L/∂z = scale · (softmax(z) − onehot(label))` into
  /// `gradient` (`scale` is e.g. `1/B` for a batch mean). Returns the number
  /// of rows whose largest logit is the label's.
  @discardableResult
  public static func evaluate<Scalar: TensorScalar>(
    logits: MatrixView<Scalar>, labels: [Int], scale: Scalar,
    losses: UnsafeMutablePointer<Scalar>, gradient: MutableMatrixView<Scalar>
  ) -> Int {
    precondition(labels.count == logits.rows, "one label per row")
    let k = logits.columns
    var correct = 0
    for r in 0..<logits.rows {
      let z = logits.row(r)
      let label = labels[r]
      precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
      var largest = z[0]
      var argmax = 0
      for j in 1..<k where z[j] > largest {
        largest = z[j]
        argmax = j
      }
      if argmax == label { correct += 1 }
      var sum: Scalar = 0
      for j in 0..<k { sum += Scalar.exp(z[j] - largest) }
      losses[r] = Scalar.log(sum) + largest - z[label]
      let g = gradient.row(r)
      for j in 0..<k {
        g[j] = scale * (Scalar.exp(z[j] - largest) / sum - (j == label ? 1 : 0))
      }
    }
    return correct
  }
}
