use super::*;
use crate::import::keepalived::source::Memory;

fn run(m: &Memory, id: Option<&str>) -> Result<Vec<(String, u32, String)>, Error> {
    let p = preprocess(m, Path::new("/etc/keepalived/keepalived.conf"), id)?;
    Ok(p.lines
        .into_iter()
        .map(|l| (l.at.file.display().to_string(), l.at.line, l.text))
        .collect())
}

fn texts(m: &Memory, id: Option<&str>) -> Vec<String> {
    run(m, id).unwrap().into_iter().map(|(_, _, t)| t).collect()
}

#[test]
fn comments_go_anywhere_outside_quotes() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "! header\nglobal_defs { # c\n  notify \"/bin/a #1\" ! x\n}\n",
    );
    assert_eq!(
        texts(&m, None),
        vec!["global_defs {", "notify \"/bin/a #1\"", "}"]
    );
}

#[test]
fn includes_are_relative_to_the_including_file_and_globs_sorted() {
    let m = Memory::default()
        .with(
            "/etc/keepalived/keepalived.conf",
            "include conf.d/*.conf\ninclude /opt/other.conf\n",
        )
        .with("/etc/keepalived/conf.d/b.conf", "b1\n")
        .with(
            "/etc/keepalived/conf.d/a.conf",
            "include sub/{x,y}.inc\na1\n",
        )
        .with("/etc/keepalived/conf.d/sub/x.inc", "x1\n")
        .with("/etc/keepalived/conf.d/sub/y.inc", "y1\n")
        .with("/opt/other.conf", "o1\n");
    let lines = run(&m, None).unwrap();
    let got: Vec<(&str, u32, &str)> = lines
        .iter()
        .map(|(f, l, t)| (f.as_str(), *l, t.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/etc/keepalived/conf.d/sub/x.inc", 1, "x1"),
            ("/etc/keepalived/conf.d/sub/y.inc", 1, "y1"),
            ("/etc/keepalived/conf.d/a.conf", 2, "a1"),
            ("/etc/keepalived/conf.d/b.conf", 1, "b1"),
            ("/opt/other.conf", 1, "o1"),
        ]
    );
}

#[test]
fn an_unreadable_include_is_an_error_at_its_line_and_an_empty_glob_a_note() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "include none.d/*.conf\n\ninclude missing.conf\n",
    );
    let e = run(&m, None).unwrap_err();
    assert_eq!(e.at.line, 3);
    assert!(
        e.to_string().starts_with(
            "/etc/keepalived/keepalived.conf:3: include `missing.conf`: cannot read /etc/keepalived/missing.conf"
        ),
        "{e}"
    );
    let m = Memory::default().with("/etc/keepalived/keepalived.conf", "include none.d/*.conf\n");
    let p = preprocess(&m, Path::new("/etc/keepalived/keepalived.conf"), None).unwrap();
    assert_eq!(p.notes[0].1, "include `none.d/*.conf` matches no file");
}

#[test]
fn an_include_loop_is_an_error() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "include keepalived.conf\n",
    );
    let e = run(&m, None).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::IncludeLoop(_)), "{e}");
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "@main router_id main_router\n@backup router_id backup_router\n@^main peer 192.0.2.1\n@^backup peer 192.0.2.2\n",
    );
    assert_eq!(
        texts(&m, Some("main")),
        vec!["router_id main_router", "peer 192.0.2.2"]
    );
    assert_eq!(
        texts(&m, Some("other")),
        vec!["peer 192.0.2.1", "peer 192.0.2.2"]
    );
    let e = run(&m, None).unwrap_err();
    assert_eq!(e.at.line, 1);
    assert!(
        e.to_string()
            .contains("ids used in this configuration: backup, main"),
        "{e}"
    );
}

#[test]
fn parameters_are_substituted_when_used_recursively() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n\
         $ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n$P=7\nprio $P\nkeep $Px ${UNDEF} $\n\
         @main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n$IF_MAIN=@main\n$IF_MAIN x 1\n\
         path ${_PWD}/s.sh\n",
    );
    assert_eq!(
        texts(&m, Some("main")),
        vec![
            "10.2.0.100/32",
            "10.2.10.100/32",
            "prio 7",
            "keep $Px ${UNDEF} $",
            "priority 240",
            "x 1",
            "path /etc/keepalived/s.sh",
        ]
    );
}

#[test]
fn multi_line_definitions_expand_to_several_lines_with_conditionals() {
    let m = Memory::default().with(
        "/etc/keepalived/keepalived.conf",
        "$INST= \\\nvrrp_instance VI_${NUM} { \\\n  @high priority 130 \\\n  @low priority 120 \\\n}\n\
         $NUM=0\n$INST\n$NUM=1\n$INST\n",
    );
    assert_eq!(
        texts(&m, Some("low")),
        vec![
            "vrrp_instance VI_0 {",
            "priority 120",
            "}",
            "vrrp_instance VI_1 {",
            "priority 120",
            "}"
        ]
    );
    let lines = run(&m, Some("low")).unwrap();
    assert_eq!(lines[4].1, 9, "expanded lines keep the line of the use");
}

#[test]
fn broken_preprocessing_is_reported_with_its_line() {
    for (text, line, what) in [
        ("a\n$X= \\\nb \\\n", 2, "multi-line definition of $X"),
        ("$A=${A}\nx $A\n", 2, "does not end"),
        ("~SEQ(I, 1, 3) x\n", 1, "~SEQ block"),
        ("x ${_RANDOM}\n", 1, "_RANDOM"),
        ("a \"open\n", 1, "quoted string"),
        ("include\n", 1, "needs a file name"),
    ] {
        let m = Memory::default().with("/etc/keepalived/keepalived.conf", text);
        let e = run(&m, Some("x")).unwrap_err();
        assert_eq!(e.at.line, line, "{text}: {e}");
        assert!(e.to_string().contains(what), "{text}: {e}");
    }
}

#[test]
fn doubling_parameters_stop_at_a_bound() {
    let mut text = String::from("$A0=x\n");
    for i in 1..40 {
        text.push_str(&format!("$A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    text.push_str("v ${A39}\n");
    let m = Memory::default().with("/etc/keepalived/keepalived.conf", &text);
    let e = run(&m, None).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::EndlessSubstitution(_)), "{e}");
}
