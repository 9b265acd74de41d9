#lang racket/base
(displayln "before exit")
(flush-output)
(exit 3)
