/// Negative numbers given as option values.
///
/// ArgumentParser reads `--count -1` as the option `--count` without a value
/// followed by a short option `-1`, and reports "Missing value for
/// '--count'". Joined as `--count=-1` the value reaches the option, whose
/// own check then names the allowed range.
enum NegativeOptionValues {
  /// `arguments` with every long option followed by a negative number
  /// (`-1`, `-0.5`, `-1e-3`, `-.5`) joined to it with `=`; a `--` ends the options.
  static func joined(_ arguments: [String]) -> [String] {
    var result: [String] = []
    result.reserveCapacity(arguments.count)
    var index = 0
    while index < arguments.count {
      let word = arguments[index]
      if word == "--" {
        result += arguments[index...]
        break
      }
      if word.hasPrefix("--"), !word.contains("="), index + 1 < arguments.count,
        isNegativeNumber(arguments[index + 1])
      {
        result.append(word + "=" + arguments[index + 1])
        index += 2
        continue
      }
      result.append(word)
      index += 1
    }
    return result
  }

  /// Whether `word` is a minus sign followed by a decimal number.
  static func isNegativeNumber(_ word: String) -> Bool {
    guard word.hasPrefix("-"), word.count > 1 else { return false }
    return Double(word) != nil && word.dropFirst().first.map { $0.isNumber || $0 == "." } == true
  }
}
