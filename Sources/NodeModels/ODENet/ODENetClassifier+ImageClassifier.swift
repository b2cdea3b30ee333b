import NodeCore
import NodeNN
import NodeSolvers

extension ODENetClassifier: ImageClassifier {
  /// Default initialisation from `seed`: the downsampling layers from stream
  /// 0, the ODE block from stream 1, the head from stream 2
  /// (``NodeNN/Sequential/initialParameters(seed:stream:)``).
  public func initializeParameters(seed: UInt64) {
    downParameters = down.initialParameters(seed: seed, stream: 0)
    ode.parameters = ode.network.initialParameters(seed: seed, stream: 1)
    headParameters = head.initialParameters(seed: seed, stream: 2)
  }

  /// The batch gradient with the ODE block differentiated by ``solver``.
  public func gradient(images: Tensor<Scalar>, labels: [Int]) throws -> ClassifierGradient<Scalar> {
    try gradient(images: images, labels: labels, solver: solver)
  }

  /// The logits with the ODE block solved by ``evaluationIntegrator``.
  public func predictions(images: Tensor<Scalar>) throws -> ClassifierPrediction<Scalar> {
    let (logits, statistics) = try logits(images, integrator: evaluationIntegrator)
    return ClassifierPrediction(logits: logits, statistics: statistics)
  }
}
