import Testing

@testable import NodeTraining

@Suite struct AdamTests {
  /// Two steps by hand: the bias-corrected first step is `lr · sign(g)`.
  @Test func matchesTheUpdateByHand() {
    var adam = Adam<Double>(parameterCount: 2, learningRate: 0.1)
    var parameters = [1.0, -2.0]
    adam.update(&parameters, gradient: [0.5, -3])
    #expect(abs(parameters[0] - 0.9) < 1e-7 && abs(parameters[1] + 1.9) < 1e-7)
    adam.update(&parameters, gradient: [0.25, 1])
    // ε moves each step by about lr·1e-8. m = 0.9·0.05 + 0.1·0.25 = 0.07, v = 0.999·2.5e-4 + 0.001·0.0625 = 3.1225e-4.
    let m = 0.07 / (1 - 0.81)
    let v = 3.1225e-4 / (1 - 0.999 * 0.999)
    #expect(abs(parameters[0] - (0.9 - 0.1 * m / (v.squareRoot() + 1e-8))) < 1e-7)
  }

  /// Adam minimises a badly scaled quadratic; AdamW's decay shrinks a zero-gradient weight.
  @Test func minimisesAQuadraticAndDecays() {
    var adam = Adam<Double>(parameterCount: 2, learningRate: 0.05)
    var x = [3.0, -4.0]
    for _ in 0..<2000 { adam.update(&x, gradient: [2 * x[0], 200 * x[1]]) }
    #expect(abs(x[0]) < 1e-2 && abs(x[1]) < 1e-2)
    var decaying = Adam<Double>(parameterCount: 1, learningRate: 0.1)
    decaying.weightDecay = 0.5
    var w = [1.0]
    decaying.update(&w, gradient: [0])
    #expect(abs(w[0] - 0.95) < 1e-12)
  }
}

@Suite struct SGDTests {
  /// PyTorch's momentum update by hand, plain and Nesterov.
  @Test func matchesTheUpdateByHand() {
    var sgd = SGD<Double>(parameterCount: 1, learningRate: 0.1, momentum: 0.9)
    var x = [1.0]
    sgd.update(&x, gradient: [2])  // b = 2
    #expect(abs(x[0] - 0.8) < 1e-15)
    sgd.update(&x, gradient: [1])  // b = 0.9·2 + 1 = 2.8
    #expect(abs(x[0] - 0.52) < 1e-15)
    var nesterov = SGD<Double>(parameterCount: 1, learningRate: 0.1, momentum: 0.9, nesterov: true)
    var y = [1.0]
    nesterov.update(&y, gradient: [2])  // b = 2, step g + μ b = 3.8
    #expect(abs(y[0] - 0.62) < 1e-15)
    var decayed = SGD<Double>(parameterCount: 1, learningRate: 0.1, weightDecay: 0.5)
    var z = [2.0]
    decayed.update(&z, gradient: [0])
    #expect(abs(z[0] - 1.9) < 1e-15)
  }
}

/// A checkpoint's optimizer state is taken only when it fits the model.
@Suite struct OptimizerResumeTests {
  @Test func stateOfAnotherParameterCountIsRefused() throws {
    let mine = Optimizer.adam(Adam(parameterCount: 264, learningRate: 1e-3))
    let error = #expect(throws: TrainingError.self) {
      try mine.resumed(from: .adam(Adam(parameterCount: 3, learningRate: 1e-3)))
    }
    #expect("\(error!)".contains("3 and 3 values, the model has 264 parameters"), "\(error!)")
    let sgd = Optimizer.sgd(SGD(parameterCount: 5, learningRate: 0.1, momentum: 0.9))
    #expect(throws: TrainingError.self) {
      try sgd.resumed(from: .sgd(SGD(parameterCount: 4, learningRate: 0.1, momentum: 0.9)))
    }
    // Another kind is named as such, and a fitting state is taken.
    let kind = #expect(throws: TrainingError.self) { try sgd.resumed(from: mine) }
    #expect("\(kind!)".contains("optimizer is adam"), "\(kind!)")
    _ = try mine.resumed(from: .adam(Adam(parameterCount: 264, learningRate: 0.5)))
  }
}
