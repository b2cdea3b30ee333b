import NodeCore

/// Integrates a batch of initial states through a vector field, every sample
/// with its own adaptive step sequence.
///
/// ```swift
/// let integrator = try ODEIntegrator<Float>(
///   method: .dormandPrince,
///   controller: .adaptive(PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)))
/// let solution = try integrator.solve(field, initialStates: y0, times: .shared([0, 1]))
/// ```
///
/// The integrator keeps its scratch memory between solves (it is a reference
/// type and not thread-safe: use one per thread). Each sample has its own
/// time, step size, error ratio, accept/reject decision, controller state and
/// statistics; one vector-field call per stage evaluates all active samples at
/// their own times, and finished samples leave the active set. A sample's
/// trajectory is therefore bitwise the same whether it is solved alone or in
/// any batch, as long as the vector field is itself per-sample.
public final class ODEIntegrator<Scalar: TensorScalar> {
  /// The Runge–Kutta method.
  public let method: ButcherTableau
  /// How step sizes are chosen.
  public let controller: StepSizeController<Scalar>
  /// The step budget per sample (accepted plus rejected steps).
  public let maxSteps: Int
  private let workspace = IntegratorWorkspace<Scalar>()

  /// Whether a sample's solution depends on its batch-mates: true for
  /// shared-step control (``ErrorControlScope/sharedAcrossBatch``), whose one
  /// step size serves the whole batch.
  public var couplesSamples: Bool {
    if case .adaptive(let pi) = controller { return pi.scope == .sharedAcrossBatch }
    return false
  }

  /// Creates an integrator.
  ///
  /// - Throws: ``SolverError`` when the controller's settings are out of range,
  ///   `maxSteps` is not positive, or adaptive stepping is asked of a method
  ///   without an error estimate.
  public init(
    method: ButcherTableau, controller: StepSizeController<Scalar>, maxSteps: Int = 10_000
  ) throws {
    switch controller {
    case .constant(let stepSize):
      guard stepSize.isFinite && stepSize > 0 else {
        throw SolverError.invalidOption(
          name: "step size", value: "\(stepSize)", allowed: "a finite value > 0")
      }
    case .adaptive(let pi):
      guard method.isAdaptive else { throw SolverError.methodNotAdaptive(method: method.name) }
      try pi.validate()
    }
    guard maxSteps > 0 else {
      throw SolverError.invalidOption(name: "max steps", value: "\(maxSteps)", allowed: "≥ 1")
    }
    self.method = method
    self.controller = controller
    self.maxSteps = maxSteps
  }

  /// Integrates `initialStates` (`[B, D]`) over `times` and returns the states
  /// at every output time with per-sample statistics.
  ///
  /// - Parameter sampleIdentifiers: what the field sees in
  ///   ``FieldBatch/sampleIndices`` for each sample, e.g. the samples' global
  ///   indices in a data set when this batch is a shard; by default a sample's
  ///   position in this batch.
  /// - Parameter initialStepSizes: the first step size of each sample (a
  ///   magnitude, capped by its interval and the controller's maximum), in
  ///   place of the controller's choice; adaptive control only.
  /// - Parameter observer: sees every step attempt (see ``StepObserver``).
  ///
  /// - Throws: ``SolverError`` for a state tensor that is not `[B, field.dimension]`,
  ///   an unusable time grid, a per-sample grid with shared-step control, or
  ///   ``PIController/controlledDimensions`` beyond the field's dimension.
  ///   A sample that cannot be integrated is not an error: see
  ///   ``SolveStatistics/status``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func solve(
    _ field: any VectorField<Scalar>, initialStates: Tensor<Scalar>, times: TimeGrid<Scalar>,
    sampleIdentifiers: [Int]? = nil, initialStepSizes: [Scalar]? = nil,
    observer: (any StepObserver<Scalar>)? = nil
  ) throws -> ODESolution<Scalar> {
    guard initialStates.rank == 2, initialStates.shape[1] == field.dimension else {
      throw SolverError.shapeMismatch(
        what: "the initial states", expected: "[B, \(field.dimension)]",
        found: initialStates.shape)
    }
    let batchSize = initialStates.shape[0]
    let dimension = field.dimension
    var errorDimension = dimension
    if case .adaptive(let pi) = controller {
      errorDimension = try pi.errorDimension(of: dimension)
    }
    try times.validate(batchSize: batchSize)
    if let sampleIdentifiers, sampleIdentifiers.count != batchSize {
      throw SolverError.shapeMismatch(
        what: "the sample identifiers", expected: "[\(batchSize)]", found: [sampleIdentifiers.count]
      )
    }
    if let initialStepSizes {
      guard initialStepSizes.count == batchSize else {
        throw SolverError.shapeMismatch(
          what: "the initial step sizes", expected: "[\(batchSize)]",
          found: [initialStepSizes.count])
      }
      if let bad = initialStepSizes.first(where: { !($0.isFinite && $0 > 0) }) {
        throw SolverError.invalidOption(
          name: "initial step size", value: "\(bad)", allowed: "a finite value > 0")
      }
    }
    if case .adaptive(let pi) = controller, pi.scope == .sharedAcrossBatch,
      case .perSample = times
    {
      throw SolverError.sharedStepNeedsSharedGrid
    }
    let gridCount = times.count
    let gridScalars: [Scalar]
    let gridStride: Int
    switch times {
    case .shared(let shared):
      gridScalars = shared
      gridStride = 0
    case .perSample(let grid):
      gridScalars = grid.scalars
      gridStride = gridCount
    }
    var statistics = SolveStatistics<Scalar>(batchSize: batchSize)
    guard batchSize > 0 else {
      return ODESolution(
        times: times, states: Tensor(shape: [0, gridCount, dimension]),
        finalStates: initialStates, statistics: statistics)
    }
    gridScalars.withUnsafeBufferPointer { grid in
      var run = BatchSolve(
        field: field, initialStates: initialStates, grid: grid.baseAddress!,
        gridStride: gridStride, gridCount: gridCount, method: method, controller: controller,
        maxSteps: maxSteps, sampleIdentifiers: sampleIdentifiers,
        initialStepSizes: initialStepSizes, observer: observer, errorDimension: errorDimension,
        workspace: workspace)
      run.run()
    }
    let ws = workspace
    func copy<T>(_ buffer: ScratchBuffer<T>, _ count: Int) -> [T] {
      Array(UnsafeBufferPointer(start: buffer.base, count: count))
    }
    statistics.functionEvaluations = copy(ws.evaluations, batchSize)
    statistics.acceptedSteps = copy(ws.acceptedSteps, batchSize)
    statistics.rejectedSteps = copy(ws.rejectedSteps, batchSize)
    statistics.status = copy(ws.status, batchSize)
    statistics.stopTimes = copy(ws.stopTimes, batchSize)
    statistics.nextStepSizes = copy(ws.nextStepSizes, batchSize)
    return ODESolution(
      times: times,
      states: Tensor(
        shape: [batchSize, gridCount, dimension],
        scalars: copy(ws.outputStates, batchSize * gridCount * dimension)),
      finalStates: Tensor(
        shape: [batchSize, dimension], scalars: copy(ws.finalStates, batchSize * dimension)),
      statistics: statistics)
  }
}
