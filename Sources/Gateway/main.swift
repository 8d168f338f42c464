import Foundation

#if canImport(Glibc)
import Glibc
#endif

// memory-gateway serve | migrate | tenant create --name N [--plan P] | billing --period YYYY-MM [--format json|csv]
setvbuf(stdout, nil, _IOFBF, 1 << 16)
let status = CommandLine.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
fflush(stdout)
exit(status)
