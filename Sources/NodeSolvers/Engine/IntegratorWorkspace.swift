import NodeCore

/// The scratch memory of an integrator, sized for the largest batch seen and
/// reused by every later solve, so that stepping never allocates.
///
/// Row buffers hold the *active* samples, compacted to the front; sample
/// buffers are indexed by the sample's position in the caller's batch.
final class IntegratorWorkspace<Scalar: TensorScalar> {
  // [rows, D] blocks
  let states = ScratchBuffer<Scalar>()
  let trialStates = ScratchBuffer<Scalar>()
  let stageInput = ScratchBuffer<Scalar>()
  let elementStep = ScratchBuffer<Scalar>()
  let errorScratch = ScratchBuffer<Scalar>()
  private(set) var stages: [ScratchBuffer<Scalar>] = []
  // per row
  let rowTime = ScratchBuffer<Scalar>()
  let rowStep = ScratchBuffer<Scalar>()
  let rowNextStep = ScratchBuffer<Scalar>()
  let rowStageTime = ScratchBuffer<Scalar>()
  let rowEndTime = ScratchBuffer<Scalar>()
  let rowErrorSquares = ScratchBuffer<Scalar>()
  let rowThirdOrderErrorSquares = ScratchBuffer<Scalar>()
  /// `ratio^errorExponent` of each row's error ratio, for its step-size factor.
  let rowErrorPowers = ScratchBuffer<Scalar>()
  let rowSample = ScratchBuffer<Int>()
  let rowSampleIdentifier = ScratchBuffer<Int>()
  let denseRows = ScratchBuffer<Int>()
  let denseIdentifiers = ScratchBuffer<Int>()
  let rowIsLast = ScratchBuffer<Bool>()
  let rowAccepted = ScratchBuffer<Bool>()
  let rowFinished = ScratchBuffer<Bool>()
  // per sample
  let sampleEndTime = ScratchBuffer<Scalar>()
  let samplePreviousRatio = ScratchBuffer<Scalar>()
  let sampleLastRejected = ScratchBuffer<Bool>()
  let sampleLastRejectionNonFinite = ScratchBuffer<Bool>()
  let sampleNonFiniteStreak = ScratchBuffer<Int>()
  let sampleNextOutput = ScratchBuffer<Int>()
  // results, copied out at the end of a solve
  let outputStates = ScratchBuffer<Scalar>()
  let finalStates = ScratchBuffer<Scalar>()
  let evaluations = ScratchBuffer<Int>()
  let acceptedSteps = ScratchBuffer<Int>()
  let rejectedSteps = ScratchBuffer<Int>()
  let status = ScratchBuffer<SolveStatus>()
  let stopTimes = ScratchBuffer<Scalar>()
  let nextStepSizes = ScratchBuffer<Scalar>()

  /// Makes room for `rows` samples of `dimension` elements and `stageCount` stages.
  func reserve(rows: Int, dimension: Int, stageCount: Int, outputTimes: Int) {
    let block = rows * dimension
    outputStates.reserve(block * outputTimes)
    finalStates.reserve(block)
    for buffer in [evaluations, acceptedSteps, rejectedSteps] { buffer.reserve(rows) }
    status.reserve(rows)
    stopTimes.reserve(rows)
    nextStepSizes.reserve(rows)
    for buffer in [states, trialStates, stageInput, elementStep, errorScratch] {
      buffer.reserve(block)
    }
    while stages.count < stageCount { stages.append(ScratchBuffer<Scalar>()) }
    for buffer in stages { buffer.reserve(block) }
    for buffer in [
      rowTime, rowStep, rowNextStep, rowStageTime, rowEndTime, rowErrorSquares,
      rowThirdOrderErrorSquares, rowErrorPowers,
      sampleEndTime,
      samplePreviousRatio,
    ] {
      buffer.reserve(rows)
    }
    for buffer in [
      rowSample, rowSampleIdentifier, denseRows, denseIdentifiers, sampleNonFiniteStreak,
      sampleNextOutput,
    ] {
      buffer.reserve(rows)
    }
    for buffer in [
      rowIsLast, rowAccepted, rowFinished, sampleLastRejected, sampleLastRejectionNonFinite,
    ] {
      buffer.reserve(rows)
    }
  }
}

/// The workspace's buffers as plain pointers, taken once per solve after
/// ``IntegratorWorkspace/reserve(rows:dimension:stageCount:outputTimes:)``:
/// the stepping loops read them without the dynamic exclusivity checks that
/// class properties cost.
struct WorkspacePointers<Scalar: TensorScalar> {
  let states: UnsafeMutablePointer<Scalar>
  let trialStates: UnsafeMutablePointer<Scalar>
  let stageInput: UnsafeMutablePointer<Scalar>
  let elementStep: UnsafeMutablePointer<Scalar>
  let errorScratch: UnsafeMutablePointer<Scalar>
  let rowTime: UnsafeMutablePointer<Scalar>
  let rowStep: UnsafeMutablePointer<Scalar>
  let rowNextStep: UnsafeMutablePointer<Scalar>
  let rowStageTime: UnsafeMutablePointer<Scalar>
  let rowEndTime: UnsafeMutablePointer<Scalar>
  let rowErrorSquares: UnsafeMutablePointer<Scalar>
  let rowThirdOrderErrorSquares: UnsafeMutablePointer<Scalar>
  let rowErrorPowers: UnsafeMutablePointer<Scalar>
  let rowSample: UnsafeMutablePointer<Int>
  let rowSampleIdentifier: UnsafeMutablePointer<Int>
  let denseRows: UnsafeMutablePointer<Int>
  let denseIdentifiers: UnsafeMutablePointer<Int>
  let rowIsLast: UnsafeMutablePointer<Bool>
  let rowAccepted: UnsafeMutablePointer<Bool>
  let rowFinished: UnsafeMutablePointer<Bool>
  let sampleEndTime: UnsafeMutablePointer<Scalar>
  let samplePreviousRatio: UnsafeMutablePointer<Scalar>
  let sampleLastRejected: UnsafeMutablePointer<Bool>
  let sampleLastRejectionNonFinite: UnsafeMutablePointer<Bool>
  let sampleNonFiniteStreak: UnsafeMutablePointer<Int>
  let sampleNextOutput: UnsafeMutablePointer<Int>
  let outputStates: UnsafeMutablePointer<Scalar>
  let finalStates: UnsafeMutablePointer<Scalar>
  let evaluations: UnsafeMutablePointer<Int>
  let acceptedSteps: UnsafeMutablePointer<Int>
  let rejectedSteps: UnsafeMutablePointer<Int>
  let status: UnsafeMutablePointer<SolveStatus>
  let stopTimes: UnsafeMutablePointer<Scalar>
  let nextStepSizes: UnsafeMutablePointer<Scalar>
  let stages: [UnsafeMutablePointer<Scalar>]

  init(_ workspace: IntegratorWorkspace<Scalar>) {
    states = workspace.states.base
    trialStates = workspace.trialStates.base
    stageInput = workspace.stageInput.base
    elementStep = workspace.elementStep.base
    errorScratch = workspace.errorScratch.base
    rowTime = workspace.rowTime.base
    rowStep = workspace.rowStep.base
    rowNextStep = workspace.rowNextStep.base
    rowStageTime = workspace.rowStageTime.base
    rowEndTime = workspace.rowEndTime.base
    rowErrorSquares = workspace.rowErrorSquares.base
    rowThirdOrderErrorSquares = workspace.rowThirdOrderErrorSquares.base
    rowErrorPowers = workspace.rowErrorPowers.base
    rowSample = workspace.rowSample.base
    rowSampleIdentifier = workspace.rowSampleIdentifier.base
    denseRows = workspace.denseRows.base
    denseIdentifiers = workspace.denseIdentifiers.base
    rowIsLast = workspace.rowIsLast.base
    rowAccepted = workspace.rowAccepted.base
    rowFinished = workspace.rowFinished.base
    sampleEndTime = workspace.sampleEndTime.base
    samplePreviousRatio = workspace.samplePreviousRatio.base
    sampleLastRejected = workspace.sampleLastRejected.base
    sampleLastRejectionNonFinite = workspace.sampleLastRejectionNonFinite.base
    sampleNonFiniteStreak = workspace.sampleNonFiniteStreak.base
    sampleNextOutput = workspace.sampleNextOutput.base
    outputStates = workspace.outputStates.base
    finalStates = workspace.finalStates.base
    evaluations = workspace.evaluations.base
    acceptedSteps = workspace.acceptedSteps.base
    rejectedSteps = workspace.rejectedSteps.base
    status = workspace.status.base
    stopTimes = workspace.stopTimes.base
    nextStepSizes = workspace.nextStepSizes.base
    stages = workspace.stages.map(\.base)
  }
}
