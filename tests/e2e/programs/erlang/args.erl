%% Run with escript: main/1 gets the program's arguments.
main(Args) ->
    io:format("argc=~B~n", [length(Args)]),
    lists:foreach(fun(A) -> io:format("[~ts]~n", [A]) end, Args).
