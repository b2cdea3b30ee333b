import NodeCore
import NodeNN
import NodeSolvers

/// What one gradient computation on a batch of labelled images found.
public struct ClassifierGradient<Scalar: TensorScalar> {
  /// The mean cross-entropy over the batch.
  public let loss: Double
  /// How many samples the model classified correctly.
  public let correct: Int
  /// `∂loss/∂θ`, in the order of the model's flat parameters.
  public let gradient: [Scalar]
  /// The ODE block's forward and backward statistics per sample (nil for a
  /// model without one).
  public let forward: SolveStatistics<Scalar>?
  public let backward: SolveStatistics<Scalar>?
}

/// Class scores of a batch of images.
public struct ClassifierPrediction<Scalar: TensorScalar> {
  /// The logits, `[B, classes]`.
  public let logits: Tensor<Scalar>
  /// The ODE block's statistics per sample (nil for a model without one).
  public let statistics: SolveStatistics<Scalar>?

  /// The class with the largest logit, per sample.
  public var predictedClasses: [Int] {
    (0..<logits.shape[0]).map { r in
      let scores = logits.row(r)
      return scores.indices.max { scores[$0] < scores[$1] }! - scores.startIndex
    }
  }
}

/// An image classifier that training loops can drive: its parameters as one
/// flat buffer, a seeded initialisation, the gradient of the mean
/// cross-entropy on a batch, and predictions.
///
/// Images are `[B, pixels]` rows; every sample's output depends only on its
/// own image (no batch statistics).
public protocol ImageClassifier<Scalar>: AnyObject {
  /// The element type.
  associatedtype Scalar: TensorScalar

  /// The number of parameters.
  var parameterCount: Int { get }
  /// Every parameter, flat, in the model's documented order.
  var parameters: [Scalar] { get set }

  /// Replaces every parameter with the frameworks' default initialisation
  /// (``NodeNN/ParameterInitialization``) drawn from `seed`: the model is a
  /// pure function of its seed.
  func initializeParameters(seed: UInt64)

  /// The mean cross-entropy of `images` with `labels` and its gradient.
  func gradient(images: Tensor<Scalar>, labels: [Int]) throws -> ClassifierGradient<Scalar>

  /// The logits of `images`.
  func predictions(images: Tensor<Scalar>) throws -> ClassifierPrediction<Scalar>
  /// `parameters` (flat, this model's order) as tensors named by layer and
  /// parameter (`down.conv1.weight`, …), for a safetensors file.
  func namedTensors(of parameters: [Scalar]) -> [String: Tensor<Scalar>]
  /// Loads every parameter from a safetensors file of ``namedTensors(of:)``' names.
  func load(_ file: SafetensorsFile) throws
}

/// The mean softmax cross-entropy of flat logits and its gradient.
enum ClassifierLoss {
  /// For `rows` rows of `classes` logits: the summed loss over `normalizer`
  /// (the mean when it is `rows`), the number of rows whose top class is the
  /// label, and that loss's gradient with respect to the logits.
  static func evaluate<Scalar: TensorScalar>(
    logits: [Scalar], labels: [Int], rows: Int, classes: Int, normalizer: Int? = nil
  ) -> (loss: Double, correct: Int, logitGradient: [Scalar]) {
    let normalizer = normalizer ?? rows
    var gradient = [Scalar](repeating: 0, count: rows * classes)
    var losses = [Scalar](repeating: 0, count: rows)
    let correct = logits.withUnsafeBufferPointer { y in
      gradient.withUnsafeMutableBufferPointer { g in
        SoftmaxCrossEntropy.evaluate(
          logits: MatrixView(base: y.baseAddress!, rows: rows, columns: classes), labels: labels,
          scale: 1 / Scalar(normalizer), losses: &losses,
          gradient: MutableMatrixView(base: g.baseAddress!, rows: rows, columns: classes))
      }
    }
    return (losses.reduce(0.0) { $0 + Double($1) } / Double(normalizer), correct, gradient)
  }
}
