import Foundation
import NodeCore
import NodeTraining

/// Rank 0's live view of a run: a one-line progress bar with rate and ETA
/// on a terminal, plain lines every `logEvery` steps otherwise (logs, CI,
/// ranks under mpirun with `NO_COLOR`).
final class TrainingProgress {
  let totalSteps: Int
  let logEvery: Int
  let interactive: Bool
  private let clock = ContinuousClock()
  private var started: ContinuousClock.Instant?
  private var firstStep = 0
  private var barShown = false

  init(totalSteps: Int, logEvery: Int) {
    self.totalSteps = totalSteps
    self.logEvery = logEvery
    interactive =
      isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
      && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] == nil
  }

  func handle(_ event: TrainerEvent) {
    switch event {
    case .started(let step, let resumedFrom, let skipped, let movedTo):
      for reason in skipped { line("skipped a checkpoint that does not verify: \(reason)") }
      if let movedTo {
        line("starting afresh: the earlier run's checkpoints were moved to \(movedTo)")
      }
      if let resumedFrom { line("resumed from \(resumedFrom) at step \(step)") }
      firstStep = step
      started = clock.now
    case .step(let metrics):
      show(metrics)
    case .evaluation(let metrics):
      var text = "eval @ step \(metrics.step): "
      if let accuracy = metrics.accuracy { text += "accuracy \(percent(accuracy)), " }
      if let nll = metrics.nll { text += "NLL \(format(nll, 4)) nats, " }
      if let kl = metrics.kl { text += "E[log q − log p̃] \(format(kl, 4)) nats, " }
      text += "loss \(format(metrics.loss, 4)), NFE mean \(format(metrics.nfeMean, 1)) max "
      text += "\(metrics.nfeMax) (\(metrics.samples) samples, rtol \(metrics.rtol))"
      line(text)
    case .checkpoint(let path, let step):
      if !interactive || step == totalSteps { line("checkpoint step \(step): \(path)") }
    }
  }

  private func show(_ m: StepMetrics) {
    var text = "step \(m.step)/\(totalSteps) epoch \(m.epoch) loss \(format(m.loss, 4))"
    if let accuracy = m.accuracy { text += " acc \(percent(accuracy))" }
    text += " NFE \(format(m.nfeForwardMean, 1))/\(format(m.nfeBackwardMean, 1))"
    let rate = self.rate(at: m.step)
    if m.skipped {
      line("step \(m.step) skipped: \(m.skipReason ?? "?") (sample \(m.skipSample ?? -1))")
      return
    }
    if interactive {
      let width = 24
      let done = Int(Double(width) * Double(m.step) / Double(max(totalSteps, 1)))
      let bar = String(repeating: "#", count: done) + String(repeating: ".", count: width - done)
      var status = "\r[\(bar)] \(text)"
      if let rate {
        status += String(format: " %.2f it/s ETA %@", rate, eta(Double(totalSteps - m.step) / rate))
      }
      FileHandle.standardOutput.write(Data((status + "\u{1B}[K").utf8))
      barShown = true
      if m.step == totalSteps { finishBar() }
    } else if m.step % logEvery == 0 || m.step == totalSteps {
      text += String(
        format: " lr %.3g %.3fs/step (comm %.3fs, wait %.3fs)", m.learningRate, m.stepSeconds,
        m.communicationSeconds, m.waitSeconds)
      line(text)
    }
  }

  private func rate(at step: Int) -> Double? {
    guard let started, step > firstStep else { return nil }
    let elapsed = (clock.now - started).seconds
    return elapsed > 0 ? Double(step - firstStep) / elapsed : nil
  }

  private func finishBar() {
    if barShown { print("") }
    barShown = false
  }

  func line(_ text: String) {
    finishBar()
    print(text)
    fflush(nil)
  }

  private func eta(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600
      ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
  }
}

func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
func percent(_ fraction: Double) -> String { String(format: "%.2f%%", 100 * fraction) }
