main(_) ->
    io:format("Hello~n"),
    X = (1 + ,
    X.
