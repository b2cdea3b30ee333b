import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

extension ODENetClassifier {
  /// Every parameter, flat: the downsampling layers', the ODE block's, the head's.
  public var parameters: [Scalar] {
    get { downParameters + ode.parameters + headParameters }
    set {
      precondition(newValue.count == parameterCount, "\(parameterCount) parameters expected")
      let (a, b) = (down.parameterCount, down.parameterCount + ode.parameterCount)
      downParameters = Array(newValue[0..<a])
      ode.parameters = Array(newValue[a..<b])
      headParameters = Array(newValue[b...])
    }
  }

  /// The named tensors of flat `parameters`: `down.*`, `ode.*`, `head.*`.
  public func namedTensors(of parameters: [Scalar]) -> [String: Tensor<Scalar>] {
    let (a, b) = (down.parameterCount, down.parameterCount + ode.parameterCount)
    return down.tensors(of: Array(parameters[0..<a]))
      .merging(ode.network.tensors(of: Array(parameters[a..<b]))) { first, _ in first }
      .merging(head.tensors(of: Array(parameters[b...]))) { first, _ in first }
  }

  /// Solves the ODE block at new tolerances: training's forward and adjoint
  /// solves (dopri5, in the current gradient mode) and prediction's.
  ///
  /// - Throws: ``SensitivityError`` or ``SolverError`` for tolerances the
  ///   controller refuses.
  public func setTolerances(
    forward: (relative: Scalar, absolute: Scalar), adjoint: (relative: Scalar, absolute: Scalar),
    evaluation: (relative: Scalar, absolute: Scalar)
  ) throws {
    solver = try ODEGradientSolver(
      mode: solver.mode, method: solver.method, forward: .adaptive(forward),
      adjoint: .adaptive(adjoint), adjointNorm: solver.adjointNorm,
      adjointFirstStep: solver.adjointFirstStep, maxSteps: solver.maxSteps)
    evaluationIntegrator = try ODEIntegrator(
      method: solver.method, controller: .adaptive(evaluation), maxSteps: solver.maxSteps)
  }

  /// The mean cross-entropy of a batch (`images` `[B, 784]`, labels in
  /// `0..<10`) and its gradient: forward through the downsampling layers, the
  /// ODE block (by `solver`, in its gradient mode) and the head, then back
  /// through the head, the block's adjoint (or backprop) and the downsampling layers.
  ///
  /// With `lossNormalizer` N the loss is the batch's summed cross-entropy over
  /// N instead of over B: a chunk of a larger batch of N samples then gets
  /// its exact share of that batch's mean loss and gradient. (Its share of a
  /// mean over its own B would start every adjoint from N/B times the
  /// cotangents, and the adjoint's absolute tolerance would pick other steps.)
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func gradient(
    images: Tensor<Scalar>, labels: [Int], solver: ODEGradientSolver<Scalar>,
    lossNormalizer: Int? = nil
  ) throws -> ClassifierGradient<Scalar> {
    let b = images.shape[0]
    let features = down.outputSize
    let zeros = [Scalar](repeating: 0, count: b)
    var gradient = [Scalar](repeating: 0, count: parameterCount)
    let downCount = down.parameterCount
    let headOffset = downCount + ode.parameterCount
    let start = down.forward(images.scalars, rows: b, times: zeros, parameters: downParameters)
    let pass = try solver.forward(
      ode, initialStates: Tensor(shape: [b, features], scalars: start), times: .shared([0, 1]))
    let logits = head.forward(
      pass.solution.finalStates.scalars, rows: b, times: zeros, parameters: headParameters)
    let (loss, correct, logitBars) = ClassifierLoss.evaluate(
      logits: logits, labels: labels, rows: b, classes: 10, normalizer: lossNormalizer)
    var endBars = [Scalar](repeating: 0, count: b * features)
    logitBars.withUnsafeBufferPointer { g in
      endBars.withUnsafeMutableBufferPointer { dz in
        gradient.withUnsafeMutableBufferPointer { grad in
          head.backward(
            times: zeros, parameters: headParameters,
            outputCotangent: MatrixView(base: g.baseAddress!, rows: b, columns: 10),
            inputCotangent: MutableMatrixView(base: dz.baseAddress!, rows: b, columns: features),
            timeCotangents: nil, parameterGradient: grad.baseAddress! + headOffset, rowWeights: nil)
        }
      }
    }
    // The loss looks only at z(1): zero cotangent at t = 0.
    var cotangents = [Scalar](repeating: 0, count: b * 2 * features)
    for s in 0..<b {
      for i in 0..<features { cotangents[(s * 2 + 1) * features + i] = endBars[s * features + i] }
    }
    let blockGradients = try solver.backward(
      pass, outputCotangents: Tensor(shape: [b, 2, features], scalars: cotangents))
    gradient.replaceSubrange(downCount..<headOffset, with: blockGradients.parameters.scalars)
    blockGradients.initialStates.withUnsafeBufferPointer { dz in
      gradient.withUnsafeMutableBufferPointer { grad in
        down.backward(
          times: zeros, parameters: downParameters,
          outputCotangent: MatrixView(base: dz.baseAddress!, rows: b, columns: features),
          inputCotangent: nil, timeCotangents: nil, parameterGradient: grad.baseAddress!,
          rowWeights: nil)
      }
    }
    return ClassifierGradient(
      loss: loss, correct: correct, gradient: gradient, forward: pass.solution.statistics,
      backward: blockGradients.statistics)
  }
}
