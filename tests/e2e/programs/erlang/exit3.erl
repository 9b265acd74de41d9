main(_) ->
    io:format("before exit~n"),
    halt(3).
